/* SPDX-License-Identifier: MIT */
/*
 * test_http1_parser.c: unit tests for the HTTP/1.1 request-head parser
 * (src/http1/parser.c).
 *
 * Two case tables, valid and invalid heads, each row its own cmocka test
 * named "ok/..." or "bad/..." (run one with ./test_http1_parser 'bad/te_*').
 * Every valid row is also parsed at every split point: each strict prefix
 * of the head must be HCS_EAGAIN, and every longer prefix must give the
 * identical parse. Every invalid row's prefixes must be HCS_EAGAIN or the
 * same error. Each prefix is parsed from an exact-size heap copy so that
 * AddressSanitizer catches a read past the end. Generated tests ("gen/...")
 * cover limits, every byte value per position, and the helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hcs/error.h"
#include "http1/parser.h"

#define DEFAULT_MAX_HEADER 8192

/* ---- helpers ------------------------------------------------------------ */

/* Print bytes with C escapes, so failures show CR, LF, NUL and obs-text. */
static void print_bytes(const char *what, const char *p, size_t n) {
  print_error("%s (%zu bytes): \"", what, n);
  for (size_t i = 0; i < n && i < 400; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '\r')
      print_error("\\r");
    else if (c == '\n')
      print_error("\\n");
    else if (c == '\t')
      print_error("\\t");
    else if (c == '"' || c == '\\')
      print_error("\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      print_error("\\x%02x", c);
    else
      print_error("%c", c);
  }
  print_error("%s\"\n", n > 400 ? "..." : "");
}

static void check_slice(hcs_str_t got, const char *want, const char *what) {
  size_t n = strlen(want);
  if (got.len == n && (n == 0 || memcmp(got.base, want, n) == 0))
    return;
  print_error("%s differs\n", what);
  print_bytes("  got ", got.base ? got.base : "", got.len);
  print_bytes("  want", want, n);
  fail();
}

static const char *rc_name(ssize_t rc) {
  return rc >= 0 ? "OK" : hcs_err_name((int)rc);
}

static void check_rc(ssize_t got, ssize_t want, const char *in, size_t len) {
  if (got == want)
    return;
  print_error("result: got %zd (%s), want %zd (%s)\n", got, rc_name(got),
              want, rc_name(want));
  print_bytes("  input", in, len);
  fail();
}

/* Parse in[0..len) from an exact-size heap copy; *copy receives it. */
static ssize_t parse_copy(const char *in, size_t len,
                          const hcs_http1_limits_t *lim,
                          hcs_http1_request_t *req, char **copy) {
  char *buf = malloc(len ? len : 1);
  assert_non_null(buf);
  memcpy(buf, in, len);
  *copy = buf;
  return hcs_http1_parse_request(buf, len, lim, req);
}

static size_t off(hcs_str_t s, const char *base) {
  return (size_t)(s.base - base);
}

/* Two parses of the same bytes in different buffers must agree exactly. */
static void check_same_parse(const hcs_http1_request_t *a, const char *abuf,
                             const hcs_http1_request_t *b, const char *bbuf) {
  assert_int_equal(off(a->method, abuf), off(b->method, bbuf));
  assert_int_equal(a->method.len, b->method.len);
  assert_int_equal(off(a->target, abuf), off(b->target, bbuf));
  assert_int_equal(a->target.len, b->target.len);
  assert_int_equal(a->minor_version, b->minor_version);
  assert_int_equal(a->num_headers, b->num_headers);
  for (size_t i = 0; i < a->num_headers; i++) {
    assert_int_equal(off(a->headers[i].name, abuf),
                     off(b->headers[i].name, bbuf));
    assert_int_equal(a->headers[i].name.len, b->headers[i].name.len);
    assert_int_equal(off(a->headers[i].value, abuf),
                     off(b->headers[i].value, bbuf));
    assert_int_equal(a->headers[i].value.len, b->headers[i].value.len);
  }
  assert_int_equal(a->body, b->body);
  assert_int_equal(a->content_length, b->content_length);
  assert_int_equal(a->keep_alive, b->keep_alive);
  assert_int_equal(a->expect_continue, b->expect_continue);
}

/* ---- case tables -------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *in;
  size_t len;
  ssize_t want;      /* invalid rows: the error; valid rows: 0         */
  size_t tail;       /* valid rows: bytes after the head (a body, ...) */
  size_t max_header; /* 0: DEFAULT_MAX_HEADER                          */
  size_t max_target; /* as in hcs_http1_limits_t                       */
  /* Expectations for valid rows. */
  const char *method;
  const char *target;
  bool v10;          /* HTTP/1.0, else 1.1                             */
  hcs_http1_body_t body;
  uint64_t cl;
  bool close;        /* keep_alive expected false                      */
  bool expect;       /* expect_continue expected true                  */
  int nh;            /* number of fields                               */
  const char *hdr[6][2]; /* fields to check, in order from the first   */
} pcase_t;

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define H11 " HTTP/1.1\r\nHost: a\r\n"

static pcase_t valid_cases[] = {
    {"ok/get_minimal", IN("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = "GET", .target = "/", .nh = 1, .hdr = {{"Host", "a"}}},
    {"ok/http10_no_host", IN("GET / HTTP/1.0\r\n\r\n"), .method = "GET",
     .target = "/", .v10 = true, .close = true},
    {"ok/http10_keep_alive",
     IN("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), .method = "GET",
     .target = "/", .v10 = true, .nh = 1},
    {"ok/http10_keep_alive_in_list",
     IN("GET / HTTP/1.0\r\nConnection: foo ,keep-alive\r\n\r\n"),
     .method = "GET", .target = "/", .v10 = true, .nh = 1},
    {"ok/http10_keep_alive_and_close",
     IN("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n"
        "\r\n"),
     .method = "GET", .target = "/", .v10 = true, .close = true, .nh = 2},
    {"ok/http10_host", IN("GET / HTTP/1.0\r\nHost: a\r\n\r\n"),
     .method = "GET", .target = "/", .v10 = true, .close = true, .nh = 1},
    {"ok/http11_close", IN("GET /" H11 "Connection: close\r\n\r\n"),
     .method = "GET", .target = "/", .close = true, .nh = 2,
     .hdr = {{"Host", "a"}, {"Connection", "close"}}},
    {"ok/http11_close_case", IN("GET /" H11 "connection: CLOSE\r\n\r\n"),
     .method = "GET", .target = "/", .close = true, .nh = 2},
    {"ok/http11_close_wins",
     IN("GET /" H11 "Connection: keep-alive, close\r\n\r\n"), .method = "GET",
     .target = "/", .close = true, .nh = 2},
    {"ok/http11_close_second_line",
     IN("GET /" H11 "Connection: upgrade\r\nConnection: close\r\n\r\n"),
     .method = "GET", .target = "/", .close = true, .nh = 3},
    {"ok/http11_connection_other",
     IN("GET /" H11 "Connection: Upgrade, HTTP2-Settings\r\n\r\n"),
     .method = "GET", .target = "/", .nh = 2},
    {"ok/http11_connection_empty_elements",
     IN("GET /" H11 "Connection: , ,upgrade,\r\n\r\n"), .method = "GET",
     .target = "/", .nh = 2},
    {"ok/http11_closed_is_not_close",
     IN("GET /" H11 "Connection: closed\r\n\r\n"), .method = "GET",
     .target = "/", .nh = 2},
    {"ok/leading_crlf", IN("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = "GET", .target = "/", .nh = 1},
    {"ok/body_length",
     IN("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
     .tail = 5, .method = "POST", .target = "/p",
     .body = HCS_HTTP1_BODY_LENGTH, .cl = 5, .nh = 2,
     .hdr = {{"Host", "a"}, {"Content-Length", "5"}}},
    {"ok/cl_zero", IN("POST /" H11 "Content-Length: 0\r\n\r\n"),
     .method = "POST", .target = "/", .nh = 2},
    {"ok/cl_zeros", IN("POST /" H11 "Content-Length: 000\r\n\r\n"),
     .method = "POST", .target = "/", .nh = 2},
    {"ok/cl_leading_zeros", IN("POST /" H11 "Content-Length: 007\r\n\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_LENGTH, .cl = 7,
     .nh = 2},
    {"ok/cl_ows", IN("POST /" H11 "Content-Length: \t 5 \t\r\n\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_LENGTH, .cl = 5,
     .nh = 2, .hdr = {{"Host", "a"}, {"Content-Length", "5"}}},
    {"ok/cl_duplicate_same",
     IN("POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_LENGTH, .cl = 5,
     .nh = 3},
    {"ok/cl_list_same", IN("POST /" H11 "Content-Length: 5, 5,5\r\n\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_LENGTH, .cl = 5,
     .nh = 2},
    {"ok/cl_same_value_other_spelling",
     IN("POST /" H11 "Content-Length: 5\r\ncontent-length: 05\r\n\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_LENGTH, .cl = 5,
     .nh = 3},
    {"ok/cl_int64_max",
     IN("POST /" H11 "Content-Length: 9223372036854775807\r\n\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_LENGTH,
     .cl = INT64_MAX, .nh = 2},
    {"ok/cl_many_leading_zeros",
     IN("POST /" H11 "Content-Length: 00000000000000000000000000042\r\n\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_LENGTH, .cl = 42,
     .nh = 2},
    {"ok/te_chunked",
     IN("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
     .tail = 5, .method = "POST", .target = "/",
     .body = HCS_HTTP1_BODY_CHUNKED, .nh = 2,
     .hdr = {{"Host", "a"}, {"Transfer-Encoding", "chunked"}}},
    {"ok/te_chunked_case", IN("POST /" H11 "transfer-encoding: ChUnKeD\r\n\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_CHUNKED, .nh = 2},
    {"ok/te_chunked_ows",
     IN("POST /" H11 "Transfer-Encoding:\t chunked \t\r\n\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_CHUNKED, .nh = 2,
     .hdr = {{"Host", "a"}, {"Transfer-Encoding", "chunked"}}},
    {"ok/te_chunked_close",
     IN("POST /" H11 "Transfer-Encoding: CHUNKED\r\nConnection: close\r\n"
        "\r\n"),
     .method = "POST", .target = "/", .body = HCS_HTTP1_BODY_CHUNKED,
     .close = true, .nh = 3},
    {"ok/expect_continue",
     IN("PUT /f" H11 "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n"),
     .method = "PUT", .target = "/f", .body = HCS_HTTP1_BODY_LENGTH, .cl = 3,
     .expect = true, .nh = 3},
    {"ok/expect_continue_case", IN("PUT /f" H11 "expect: 100-Continue\r\n\r\n"),
     .method = "PUT", .target = "/f", .expect = true, .nh = 2},
    {"ok/expect_continue_twice",
     IN("PUT /f" H11 "Expect: 100-continue\r\nExpect: 100-CONTINUE\r\n\r\n"),
     .method = "PUT", .target = "/f", .expect = true, .nh = 3},
    {"ok/expect_continue_http10_ignored",
     IN("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), .method = "PUT",
     .target = "/f", .v10 = true, .close = true, .nh = 1},
    {"ok/header_values",
     IN("GET /" H11 "X-Empty:\r\nX-Ws:  \t \r\nX-Tab: a\tb\r\n"
        "X-Obs: caf\xc3\xa9\xff\r\nX-Inner:  a  b \t\r\nX-Ascii: !\"~()<>\r\n"
        "\r\n"),
     .method = "GET", .target = "/", .nh = 7,
     .hdr = {{"Host", "a"},
             {"X-Empty", ""},
             {"X-Ws", ""},
             {"X-Tab", "a\tb"},
             {"X-Obs", "caf\xc3\xa9\xff"},
             {"X-Inner", "a  b"}}},
    {"ok/header_name_tchars",
     IN("GET /" H11 "X!#$%&'*+-.^_`|~09az: v\r\n\r\n"), .method = "GET",
     .target = "/", .nh = 2,
     .hdr = {{"Host", "a"}, {"X!#$%&'*+-.^_`|~09az", "v"}}},
    {"ok/header_no_space_after_colon", IN("GET / HTTP/1.1\r\nHost:a\r\n\r\n"),
     .method = "GET", .target = "/", .nh = 1, .hdr = {{"Host", "a"}}},
    {"ok/lookalike_names_are_plain_fields",
     IN("POST /" H11 "Transfer_Encoding: gzip\r\nContent-Length2: x\r\n"
        "Transfer-Encodings: x\r\nX-Content-Length: y\r\n\r\n"),
     .method = "POST", .target = "/", .nh = 5},
    {"ok/method_token", IN("M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = "M-SEARCH", .target = "*", .nh = 1},
    {"ok/method_lowercase", IN("get / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .method = "get", .target = "/", .nh = 1},
    {"ok/absolute_form",
     IN("GET http://a.example:80/p?q=1 HTTP/1.1\r\nHost: a.example:80\r\n\r\n"),
     .method = "GET", .target = "http://a.example:80/p?q=1", .nh = 1},
    {"ok/authority_form", IN("CONNECT a.example:443" H11 "\r\n"),
     .method = "CONNECT", .target = "a.example:443", .nh = 1},
    {"ok/target_all_visible_ascii",
     IN("GET /!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~ HTTP/1.1\r\nHost: a\r\n"
        "\r\n"),
     .method = "GET", .target = "/!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
     .nh = 1},
    {"ok/host_ipv6", IN("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
     .method = "GET", .target = "/", .nh = 1, .hdr = {{"Host", "[::1]:8080"}}},
    {"ok/host_empty", IN("GET / HTTP/1.1\r\nHost:\r\n\r\n"), .method = "GET",
     .target = "/", .nh = 1, .hdr = {{"Host", ""}}},
    {"ok/host_port", IN("GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n"),
     .method = "GET", .target = "/", .nh = 1},
    {"ok/host_pct_and_sub_delims",
     IN("GET / HTTP/1.1\r\nHost: a%41-b_c~d!$&'()*+,;=\r\n\r\n"),
     .method = "GET", .target = "/", .nh = 1},
    {"ok/host_name_case", IN("GET / HTTP/1.1\r\nhOST: a\r\n\r\n"),
     .method = "GET", .target = "/", .nh = 1},
    {"ok/head_at_limit", IN("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     .max_header = 27, .method = "GET", .target = "/", .nh = 1},
    {"ok/target_at_limit", IN("GET /abcd HTTP/1.1\r\nHost: a\r\n\r\n"),
     .max_target = 5, .method = "GET", .target = "/abcd", .nh = 1},
    {"ok/pipelined_tail",
     IN("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"),
     .tail = 28, .method = "GET", .target = "/1", .nh = 1},
};

static pcase_t invalid_cases[] = {
    /* request line */
    {"bad/bare_lf_request_line", IN("GET / HTTP/1.1\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/bare_cr_request_line", IN("GET / HTTP/1.1\rHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/bare_lf_leading", IN("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/bare_cr_leading", IN("\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/leading_space", IN(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/leading_nul", IN("\0GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/method_non_tchar", IN("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/method_tab", IN("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/method_obs_text", IN("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/double_space_after_method", IN("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/double_space_after_target", IN("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/target_obs_text", IN("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/target_del", IN("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/target_nul", IN("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/target_tab", IN("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/target_space", IN("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/http09", IN("GET /\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/no_version", IN("GET / \r\nHost: a\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/version_lowercase", IN("GET / http/1.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/version_two_digit_minor", IN("GET / HTTP/1.10\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/version_two_digit_major", IN("GET / HTTP/11.1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/version_no_minor", IN("GET / HTTP/1\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/version_trailing_space", IN("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/version_cr_cr", IN("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/version_2_0_garbage", IN("GET / HTTP/2.0x\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/version_2_0", IN("GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
     HCS_EBADVERSION},
    {"bad/version_1_2", IN("GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
     HCS_EBADVERSION},
    {"bad/version_0_9", IN("GET / HTTP/0.9\r\n\r\n"), HCS_EBADVERSION},
    {"bad/version_3_0_early", IN("GET / HTTP/3.0\r\n"), HCS_EBADVERSION},

    /* field lines */
    {"bad/bare_lf_field", IN("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/bare_lf_end", IN("GET / HTTP/1.1\r\nHost: a\r\n\n"),
     HCS_EBADREQUEST},
    {"bad/bare_lf_everywhere", IN("GET / HTTP/1.1\nHost: a\n\n"),
     HCS_EBADREQUEST},
    {"bad/bare_cr_end", IN("GET / HTTP/1.1\r\nHost: a\r\n\rX"),
     HCS_EBADREQUEST},
    {"bad/bare_cr_in_value", IN("GET /" H11 "X: a\rb\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/bare_cr_after_value", IN("GET /" H11 "X: a\r\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/nul_in_value", IN("GET /" H11 "X: a\0b\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/vt_in_value", IN("GET /" H11 "X: a\x0b" "b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/ff_in_value", IN("GET /" H11 "X: a\x0c" "b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/ctl_1f_in_value", IN("GET /" H11 "X: a\x1f" "b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/del_in_value", IN("GET /" H11 "X: a\x7f" "b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/obs_fold", IN("GET /" H11 "X: b\r\n c\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/obs_fold_tab", IN("GET /" H11 "X: b\r\n\tc\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/obs_fold_host", IN("GET / HTTP/1.1\r\nHost:\r\n a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/ws_after_request_line", IN("GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/space_before_colon", IN("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/tab_before_colon", IN("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/empty_name", IN("GET /" H11 ": v\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/no_colon", IN("GET /" H11 "X\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/name_space", IN("GET /" H11 "X Y: 1\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/name_nul", IN("GET /" H11 "X\0: 1\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/name_non_tchar", IN("GET /" H11 "X(Y): 1\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/name_obs_text", IN("GET /" H11 "X\xc3\xa9: 1\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/lf_in_name", IN("GET /" H11 "X\n: 1\r\n\r\n"), HCS_EBADREQUEST},

    /* Host */
    {"bad/missing_host_11", IN("GET / HTTP/1.1\r\nX: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/missing_host_11_no_fields", IN("GET / HTTP/1.1\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/duplicate_host", IN("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/duplicate_host_case",
     IN("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/duplicate_host_10", IN("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/host_space", IN("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/host_list", IN("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/host_userinfo", IN("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/host_bad_port", IN("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/host_two_ports", IN("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/host_bad_pct", IN("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/host_slash", IN("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/host_ipv6_unterminated", IN("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/host_ipv6_empty", IN("GET / HTTP/1.1\r\nHost: []\r\n\r\n"),
     HCS_EBADREQUEST},

    /* Content-Length */
    {"bad/cl_te",
     IN("POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_cl",
     IN("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl0_te",
     IN("POST /" H11 "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_differ",
     IN("POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_differ_zero",
     IN("POST /" H11 "Content-Length: 0\r\nContent-Length: 5\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_list_differ", IN("POST /" H11 "Content-Length: 5, 6\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_plus", IN("POST /" H11 "Content-Length: +5\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_minus", IN("POST /" H11 "Content-Length: -5\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_space_inside", IN("POST /" H11 "Content-Length: 1 0\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_tab_inside", IN("POST /" H11 "Content-Length: 1\t0\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_hex", IN("POST /" H11 "Content-Length: 0x5\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_hex_digits", IN("POST /" H11 "Content-Length: 5a\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_decimal", IN("POST /" H11 "Content-Length: 5.0\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_quoted", IN("POST /" H11 "Content-Length: \"5\"\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_empty", IN("POST /" H11 "Content-Length:\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_trailing_comma", IN("POST /" H11 "Content-Length: 5,\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_leading_comma", IN("POST /" H11 "Content-Length: ,5\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_empty_element", IN("POST /" H11 "Content-Length: 5,,5\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_overflow_2_63",
     IN("POST /" H11 "Content-Length: 9223372036854775808\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_overflow_2_64",
     IN("POST /" H11 "Content-Length: 18446744073709551616\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_overflow_wraps_to_5",
     IN("POST /" H11 "Content-Length: 18446744073709551621\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_huge",
     IN("POST /" H11 "Content-Length: 99999999999999999999999999\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_vt", IN("POST /" H11 "Content-Length: 5\x0b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/cl_space_before_colon",
     IN("POST /" H11 "Content-Length : 5\r\n\r\n"), HCS_EBADREQUEST},

    /* Transfer-Encoding */
    {"bad/te_http10",
     IN("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_cl_http10",
     IN("POST / HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
        "\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_xchunked", IN("POST /" H11 "Transfer-Encoding: xchunked\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_chunkedx", IN("POST /" H11 "Transfer-Encoding: chunkedx\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_chunked_identity",
     IN("POST /" H11 "Transfer-Encoding: chunked, identity\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_identity", IN("POST /" H11 "Transfer-Encoding: identity\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_gzip", IN("POST /" H11 "Transfer-Encoding: gzip\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_gzip_chunked",
     IN("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"),
     HCS_ENOTIMPL},
    {"bad/te_identity_chunked",
     IN("POST /" H11 "Transfer-Encoding: identity, chunked\r\n\r\n"),
     HCS_ENOTIMPL},
    {"bad/te_chunked_chunked",
     IN("POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n"),
     HCS_ENOTIMPL},
    {"bad/te_two_lines_chunked",
     IN("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
        "\r\n\r\n"),
     HCS_ENOTIMPL},
    {"bad/te_two_lines_gzip_then_chunked",
     IN("POST /" H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked"
        "\r\n\r\n"),
     HCS_ENOTIMPL},
    {"bad/te_two_lines_chunked_then_gzip",
     IN("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip"
        "\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_two_lines_chunked_then_x",
     IN("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: x"
        "\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_501_but_missing_host",
     IN("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_501_but_syntax_error",
     IN("POST /" H11 "Transfer-Encoding: gzip, chunked\r\nX\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/expect_but_te_501",
     IN("POST /" H11 "Expect: foo\r\nTransfer-Encoding: gzip, chunked\r\n"
        "\r\n"),
     HCS_ENOTIMPL},
    {"bad/te_params", IN("POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_quoted", IN("POST /" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_inner_space",
     IN("POST /" H11 "Transfer-Encoding: chunk ed\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/te_two_words",
     IN("POST /" H11 "Transfer-Encoding: chunked chunked\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_vt_after",
     IN("POST /" H11 "Transfer-Encoding: chunked\x0b\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_vt_before",
     IN("POST /" H11 "Transfer-Encoding:\x0b" "chunked\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_ff_before",
     IN("POST /" H11 "Transfer-Encoding:\x0c" "chunked\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_nul_after",
     IN("POST /" H11 "Transfer-Encoding: chunked\0\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/te_obs_text_after",
     IN("POST /" H11 "Transfer-Encoding: chunked\xa0\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_empty", IN("POST /" H11 "Transfer-Encoding:\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_comma_only", IN("POST /" H11 "Transfer-Encoding: ,\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_trailing_comma",
     IN("POST /" H11 "Transfer-Encoding: chunked,\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/te_leading_comma",
     IN("POST /" H11 "Transfer-Encoding: , chunked\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/te_empty_line_then_chunked",
     IN("POST /" H11 "Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n"
        "\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_space_before_colon",
     IN("POST /" H11 "Transfer-Encoding : chunked\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/te_obs_fold",
     IN("POST /" H11 "Transfer-Encoding:\r\n chunked\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_obs_fold_after_value",
     IN("POST /" H11 "Transfer-Encoding: chunked\r\n , gzip\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/te_lf_in_name",
     IN("POST /" H11 "Transfer-Encoding\n: chunked\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/te_bare_lf_line",
     IN("POST /" H11 "Transfer-Encoding: chunked\n\r\n"), HCS_EBADREQUEST},
    {"bad/te_after_bare_lf",
     IN("POST /" H11 "X: y\nTransfer-Encoding: chunked\r\n\r\n"),
     HCS_EBADREQUEST},

    /* Expect and Connection */
    {"bad/expect_other", IN("PUT /" H11 "Expect: foo\r\n\r\n"), HCS_EEXPECT},
    {"bad/expect_102", IN("PUT /" H11 "Expect: 102-processing\r\n\r\n"),
     HCS_EEXPECT},
    {"bad/expect_empty", IN("PUT /" H11 "Expect:\r\n\r\n"), HCS_EEXPECT},
    {"bad/expect_list", IN("PUT /" H11 "Expect: 100-continue, foo\r\n\r\n"),
     HCS_EEXPECT},
    {"bad/expect_mixed_lines",
     IN("PUT /" H11 "Expect: 100-continue\r\nExpect: foo\r\n\r\n"),
     HCS_EEXPECT},
    {"bad/expect_params", IN("PUT /" H11 "Expect: 100-continue;x=1\r\n\r\n"),
     HCS_EEXPECT},
    {"bad/expect_other_http10", IN("PUT / HTTP/1.0\r\nExpect: foo\r\n\r\n"),
     HCS_EEXPECT},
    {"bad/expect_400_first",
     IN("PUT / HTTP/1.1\r\nExpect: foo\r\n\r\n"), HCS_EBADREQUEST},
    {"bad/connection_not_token", IN("GET /" H11 "Connection: close x\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/connection_params", IN("GET /" H11 "Connection: close;x\r\n\r\n"),
     HCS_EBADREQUEST},
    {"bad/connection_quoted", IN("GET /" H11 "Connection: \"close\"\r\n\r\n"),
     HCS_EBADREQUEST},

    /* limits (the default limits are 8192 and "same") */
    {"bad/head_too_big_incomplete",
     IN("GET / HTTP/1.1\r\nHost: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
     HCS_EHEADERTOOBIG, .max_header = 30},
    {"bad/head_too_big_complete", IN("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EHEADERTOOBIG, .max_header = 26},
    {"bad/head_too_big_at_request_line_end",
     IN("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HCS_EHEADERTOOBIG,
     .max_header = 16},
    {"bad/head_too_big_leading_crlf", IN("\r\n\r\n\r\n\r\n\r\n\r\nGET"),
     HCS_EHEADERTOOBIG, .max_header = 10},
    {"bad/target_too_long_incomplete", IN("GET /abcd"), HCS_EURITOOLONG,
     .max_target = 4},
    {"bad/target_too_long_complete", IN("GET /abcde HTTP/1.1\r\nHost: a\r\n\r\n"),
     HCS_EURITOOLONG, .max_target = 5},
    {"bad/target_fills_head", IN("GET /aaaaaaaaaaaaaaaaaaaa"), HCS_EURITOOLONG,
     .max_header = 16},
    {"bad/syntax_before_limit", IN("GET / HTTP/1.1\r\nX: \0aaaaaaaaaaaaaa"),
     HCS_EBADREQUEST, .max_header = 24},
    {"bad/limit_before_syntax", IN("GET / HTTP/1.1\r\nX: aaaaaaaa\0aaaaaaaa"),
     HCS_EHEADERTOOBIG, .max_header = 24},

    /* rejected before the head is complete */
    {"bad/early_nul_in_value", IN("GET / HTTP/1.1\r\nX: \0"), HCS_EBADREQUEST},
    {"bad/early_obs_fold", IN("GET / HTTP/1.1\r\nHost: a\r\n "),
     HCS_EBADREQUEST},
    {"bad/early_bare_lf", IN("GET / HTTP/1.1\n"), HCS_EBADREQUEST},
    {"bad/early_space_before_colon", IN("GET / HTTP/1.1\r\nHost "),
     HCS_EBADREQUEST},
    {"bad/early_cl_te",
     IN("POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
     HCS_EBADREQUEST},
    {"bad/early_cl_differ",
     IN("POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n"),
     HCS_EBADREQUEST},
    {"bad/early_cl_sign", IN("POST /" H11 "Content-Length: -1\r\n"),
     HCS_EBADREQUEST},
    {"bad/early_te_http10",
     IN("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"), HCS_EBADREQUEST},
    {"bad/early_duplicate_host", IN("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n"),
     HCS_EBADREQUEST},
    {"bad/early_target_ctl", IN("GET /\x01"), HCS_EBADREQUEST},
    {"bad/early_method", IN("GE\x7f"), HCS_EBADREQUEST},
};

/* ---- table runners ------------------------------------------------------ */

static hcs_http1_limits_t case_limits(const pcase_t *c) {
  hcs_http1_limits_t lim;
  lim.max_header_bytes = c->max_header ? c->max_header : DEFAULT_MAX_HEADER;
  lim.max_target_bytes = c->max_target;
  return lim;
}

static void check_expectations(const pcase_t *c, const hcs_http1_request_t *r) {
  check_slice(r->method, c->method, "method");
  check_slice(r->target, c->target, "target");
  assert_int_equal(r->minor_version, c->v10 ? 0 : 1);
  assert_int_equal(r->body, c->body);
  assert_int_equal(r->content_length, c->cl);
  assert_int_equal(r->keep_alive, !c->close);
  assert_int_equal(r->expect_continue, c->expect);
  assert_int_equal(r->num_headers, (size_t)c->nh);
  for (size_t i = 0; i < 6 && c->hdr[i][0] != NULL; i++) {
    char what[64];
    snprintf(what, sizeof(what), "header %zu name", i);
    check_slice(r->headers[i].name, c->hdr[i][0], what);
    snprintf(what, sizeof(what), "header %zu value", i);
    check_slice(r->headers[i].value, c->hdr[i][1], what);
  }
}

static void run_valid(void **state) {
  const pcase_t *c = *state;
  hcs_http1_limits_t lim = case_limits(c);
  hcs_http1_request_t full, part;
  size_t head = c->len - c->tail;
  char *fbuf, *pbuf;
  ssize_t rc;

  rc = parse_copy(c->in, c->len, &lim, &full, &fbuf);
  check_rc(rc, (ssize_t)head, c->in, c->len);
  check_expectations(c, &full);

  /* Every split point: a prefix of the head needs more; past it, same. */
  for (size_t k = 0; k < c->len; k++) {
    rc = parse_copy(c->in, k, &lim, &part, &pbuf);
    if (k < head) {
      check_rc(rc, HCS_EAGAIN, c->in, k);
    } else {
      check_rc(rc, (ssize_t)head, c->in, k);
      check_same_parse(&full, fbuf, &part, pbuf);
    }
    free(pbuf);
  }
  free(fbuf);
}

static void run_invalid(void **state) {
  const pcase_t *c = *state;
  hcs_http1_limits_t lim = case_limits(c);
  hcs_http1_request_t r;
  char *buf;
  ssize_t rc;

  rc = parse_copy(c->in, c->len, &lim, &r, &buf);
  free(buf);
  check_rc(rc, c->want, c->in, c->len);

  /* A prefix may need more or be rejected already, but never otherwise. */
  for (size_t k = 0; k < c->len; k++) {
    rc = parse_copy(c->in, k, &lim, &r, &buf);
    free(buf);
    if (rc != HCS_EAGAIN)
      check_rc(rc, c->want, c->in, k);
  }
}

/* ---- generated tests ---------------------------------------------------- */

static hcs_http1_limits_t limits(size_t max_header, size_t max_target) {
  hcs_http1_limits_t lim = {max_header, max_target};
  return lim;
}

/* A request with `fields` field lines ("Host: a" and "X-<i>: <i>"). */
static size_t build_many_fields(char *buf, size_t cap, int fields) {
  size_t n = (size_t)snprintf(buf, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
  for (int i = 1; i < fields; i++)
    n += (size_t)snprintf(buf + n, cap - n, "X-%d: %d\r\n", i, i);
  n += (size_t)snprintf(buf + n, cap - n, "\r\n");
  assert_true(n < cap);
  return n;
}

static void gen_max_headers_ok(void **state) {
  char buf[4096];
  size_t n = build_many_fields(buf, sizeof(buf), HCS_HTTP1_MAX_HEADERS);
  hcs_http1_limits_t lim = limits(DEFAULT_MAX_HEADER, 0);
  hcs_http1_request_t r;
  check_rc(hcs_http1_parse_request(buf, n, &lim, &r), (ssize_t)n, buf, n);
  assert_int_equal(r.num_headers, HCS_HTTP1_MAX_HEADERS);
  check_slice(r.headers[99].name, "X-99", "last name");
  check_slice(r.headers[99].value, "99", "last value");
}

static void gen_max_headers_exceeded(void **state) {
  char buf[4096];
  size_t n = build_many_fields(buf, sizeof(buf), HCS_HTTP1_MAX_HEADERS + 1);
  hcs_http1_limits_t lim = limits(DEFAULT_MAX_HEADER, 0);
  hcs_http1_request_t r;
  /* The 101st line starts right after the 100th line's CRLF. */
  const char *last = strstr(buf, "X-100:");
  size_t at = (size_t)(last - buf);
  check_rc(hcs_http1_parse_request(buf, n, &lim, &r), HCS_EHEADERTOOBIG, buf,
           n);
  check_rc(hcs_http1_parse_request(buf, at, &lim, &r), HCS_EAGAIN, buf, at);
  check_rc(hcs_http1_parse_request(buf, at + 1, &lim, &r), HCS_EHEADERTOOBIG,
           buf, at + 1);
}

/* Around max_header_bytes, at every prefix: EAGAIN below, 431 at it. */
static void gen_head_limit_boundaries(void **state) {
  static const char req[] = "GET /x HTTP/1.1\r\nHost: a\r\nX-Long: abcdef\r\n\r\n";
  size_t len = sizeof(req) - 1;
  hcs_http1_request_t r;
  for (size_t max = 1; max <= len + 2; max++) {
    hcs_http1_limits_t lim = limits(max, 0);
    for (size_t k = 0; k <= len; k++) {
      char *buf;
      ssize_t rc = parse_copy(req, k, &lim, &r, &buf);
      ssize_t want;
      free(buf);
      if (k == len && max >= len)
        want = (ssize_t)len;
      else if (k < max)
        want = HCS_EAGAIN;
      else if (max >= 4 && max <= 6) /* the window ends in the target */
        want = HCS_EURITOOLONG;
      else
        want = HCS_EHEADERTOOBIG;
      if (rc != want)
        print_error("max_header_bytes=%zu prefix=%zu\n", max, k);
      check_rc(rc, want, req, k);
    }
  }
}

/* The target may hold max_target_bytes; one more byte is a 414 at once. */
static void gen_target_limit_boundaries(void **state) {
  static const char req[] = "GET /abcdefgh HTTP/1.1\r\nHost: a\r\n\r\n";
  const size_t len = sizeof(req) - 1, tlen = 9, tstart = 4;
  hcs_http1_request_t r;
  for (size_t max = 1; max <= tlen + 1; max++) {
    hcs_http1_limits_t lim = limits(DEFAULT_MAX_HEADER, max);
    for (size_t k = 0; k <= len; k++) {
      ssize_t rc = hcs_http1_parse_request(req, k, &lim, &r);
      ssize_t want;
      if (max < tlen && k > tstart + max)
        want = HCS_EURITOOLONG;
      else if (k < len)
        want = HCS_EAGAIN;
      else
        want = (ssize_t)len;
      if (rc != want)
        print_error("max_target_bytes=%zu prefix=%zu\n", max, k);
      check_rc(rc, want, req, k);
    }
  }
}

/* A field line that never ends is refused once the window is full. */
static void gen_endless_field_line(void **state) {
  size_t len = 3 * DEFAULT_MAX_HEADER;
  char *buf = malloc(len);
  hcs_http1_limits_t lim = limits(DEFAULT_MAX_HEADER, 0);
  hcs_http1_request_t r;
  size_t pre;
  assert_non_null(buf);
  pre = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
  memset(buf + pre, 'a', len - pre);
  check_rc(hcs_http1_parse_request(buf, DEFAULT_MAX_HEADER - 1, &lim, &r),
           HCS_EAGAIN, buf, 64);
  check_rc(hcs_http1_parse_request(buf, DEFAULT_MAX_HEADER, &lim, &r),
           HCS_EHEADERTOOBIG, buf, 64);
  check_rc(hcs_http1_parse_request(buf, len, &lim, &r), HCS_EHEADERTOOBIG,
           buf, 64);
  free(buf);
}

/* So is an endless run of empty lines before the request line. */
static void gen_endless_leading_crlf(void **state) {
  size_t len = 2 * DEFAULT_MAX_HEADER;
  char *buf = malloc(len);
  hcs_http1_limits_t lim = limits(DEFAULT_MAX_HEADER, 0);
  hcs_http1_request_t r;
  assert_non_null(buf);
  for (size_t i = 0; i < len; i += 2)
    memcpy(buf + i, "\r\n", 2);
  check_rc(hcs_http1_parse_request(buf, DEFAULT_MAX_HEADER - 1, &lim, &r),
           HCS_EAGAIN, buf, 16);
  check_rc(hcs_http1_parse_request(buf, len, &lim, &r), HCS_EHEADERTOOBIG,
           buf, 16);
  free(buf);
}

/* A long target under the default limits is a 414, never a 431. */
static void gen_long_target_default_limits(void **state) {
  size_t len = 2 * DEFAULT_MAX_HEADER;
  char *buf = malloc(len);
  hcs_http1_limits_t lim = limits(DEFAULT_MAX_HEADER, 0);
  hcs_http1_request_t r;
  assert_non_null(buf);
  memcpy(buf, "GET /", 5);
  memset(buf + 5, 'a', len - 5);
  check_rc(hcs_http1_parse_request(buf, len, &lim, &r), HCS_EURITOOLONG, buf,
           16);
  free(buf);
}

/* Put each byte value at one spot of a request and compare the verdict. */
static void try_each_byte(const char *fmt_before, const char *after,
                          bool (*allowed)(unsigned char), ssize_t bad_rc) {
  for (int b = 0; b < 256; b++) {
    char buf[256];
    hcs_http1_limits_t lim = limits(DEFAULT_MAX_HEADER, 0);
    hcs_http1_request_t r;
    size_t n = strlen(fmt_before), m = strlen(after);
    ssize_t rc, want;
    memcpy(buf, fmt_before, n);
    buf[n] = (char)b;
    memcpy(buf + n + 1, after, m);
    rc = hcs_http1_parse_request(buf, n + 1 + m, &lim, &r);
    want = allowed((unsigned char)b) ? (ssize_t)(n + 1 + m) : bad_rc;
    if (rc != want)
      print_error("byte 0x%02x\n", b);
    check_rc(rc, want, buf, n + 1 + m);
  }
}

static bool value_byte(unsigned char c) {
  return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

static bool visible_ascii(unsigned char c) {
  return c >= 0x21 && c <= 0x7e;
}

static bool tchar_ref(unsigned char c) {
  return c != 0 && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                    (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c));
}

static void gen_every_byte_in_value(void **state) {
  try_each_byte("GET / HTTP/1.1\r\nHost: a\r\nX: a", "b\r\n\r\n", value_byte,
                HCS_EBADREQUEST);
}

/* ':' ends the name early ("X:Y: v" is the field X), so it passes too. */
static bool name_byte(unsigned char c) {
  return tchar_ref(c) || c == ':';
}

static void gen_every_byte_in_name(void **state) {
  try_each_byte("GET / HTTP/1.1\r\nHost: a\r\nX", "Y: v\r\n\r\n", name_byte,
                HCS_EBADREQUEST);
}

static void gen_every_byte_in_target(void **state) {
  try_each_byte("GET /", "x HTTP/1.1\r\nHost: a\r\n\r\n", visible_ascii,
                HCS_EBADREQUEST);
}

static void gen_every_byte_in_method(void **state) {
  try_each_byte("G", "T / HTTP/1.1\r\nHost: a\r\n\r\n", tchar_ref,
                HCS_EBADREQUEST);
}

static void gen_is_tchar(void **state) {
  for (int b = 0; b < 256; b++) {
    if (hcs_http1_is_tchar((unsigned char)b) != tchar_ref((unsigned char)b))
      print_error("byte 0x%02x\n", b);
    assert_int_equal(hcs_http1_is_tchar((unsigned char)b),
                     tchar_ref((unsigned char)b));
  }
}

static void gen_str_ieq(void **state) {
  assert_true(hcs_http1_str_ieq(hcs_str_c("Content-Length"), "content-length"));
  assert_true(hcs_http1_str_ieq(hcs_str_c("content-length"), "CONTENT-LENGTH"));
  assert_true(hcs_http1_str_ieq(hcs_str_c(""), ""));
  assert_false(hcs_http1_str_ieq(hcs_str_c("Host"), "Hos"));
  assert_false(hcs_http1_str_ieq(hcs_str_c("Hos"), "Host"));
  assert_false(hcs_http1_str_ieq(hcs_str_c("Host"), "Hosu"));
  /* Only ASCII letters fold: '@' (0x40) is not '`' (0x60). */
  assert_false(hcs_http1_str_ieq(hcs_str_c("@"), "`"));
  assert_false(hcs_http1_str_ieq(hcs_str_c("["), "{"));
  /* A slice is not a C string: an embedded NUL does not end it. */
  hcs_str_t nul = {"ab\0c", 4};
  assert_false(hcs_http1_str_ieq(nul, "ab"));
}

static void gen_find_header(void **state) {
  static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\n"
                            "Content-Type: t\r\nx-dup: 2\r\n\r\n";
  hcs_http1_limits_t lim = limits(DEFAULT_MAX_HEADER, 0);
  hcs_http1_request_t r;
  check_rc(hcs_http1_parse_request(req, sizeof(req) - 1, &lim, &r),
           (ssize_t)(sizeof(req) - 1), req, sizeof(req) - 1);
  assert_int_equal(hcs_http1_find_header(&r, "host"), 0);
  assert_int_equal(hcs_http1_find_header(&r, "HOST"), 0);
  assert_int_equal(hcs_http1_find_header(&r, "X-DUP"), 1);
  assert_int_equal(hcs_http1_find_header(&r, "content-type"), 2);
  assert_int_equal(hcs_http1_find_header(&r, "Content-Typ"), -1);
  assert_int_equal(hcs_http1_find_header(&r, "Content-Types"), -1);
  assert_int_equal(hcs_http1_find_header(&r, "X-Missing"), -1);
  assert_int_equal(hcs_http1_find_header(&r, ""), -1);
}

/* Parsing does not depend on what follows len in the buffer. */
static void gen_ignores_bytes_after_len(void **state) {
  static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r";
  hcs_http1_limits_t lim = limits(DEFAULT_MAX_HEADER, 0);
  hcs_http1_request_t r;
  check_rc(hcs_http1_parse_request(req, sizeof(req) - 1, &lim, &r),
           HCS_EAGAIN, req, sizeof(req) - 1);
  check_rc(hcs_http1_parse_request(req, 0, &lim, &r), HCS_EAGAIN, req, 0);
  check_rc(hcs_http1_parse_request(NULL, 0, &lim, &r), HCS_EAGAIN, "", 0);
}

static const struct {
  const char *name;
  CMUnitTestFunction fn;
} generated[] = {
    {"gen/max_headers_ok", gen_max_headers_ok},
    {"gen/max_headers_exceeded", gen_max_headers_exceeded},
    {"gen/head_limit_boundaries", gen_head_limit_boundaries},
    {"gen/target_limit_boundaries", gen_target_limit_boundaries},
    {"gen/endless_field_line", gen_endless_field_line},
    {"gen/endless_leading_crlf", gen_endless_leading_crlf},
    {"gen/long_target_default_limits", gen_long_target_default_limits},
    {"gen/every_byte_in_value", gen_every_byte_in_value},
    {"gen/every_byte_in_name", gen_every_byte_in_name},
    {"gen/every_byte_in_target", gen_every_byte_in_target},
    {"gen/every_byte_in_method", gen_every_byte_in_method},
    {"gen/is_tchar", gen_is_tchar},
    {"gen/str_ieq", gen_str_ieq},
    {"gen/find_header", gen_find_header},
    {"gen/ignores_bytes_after_len", gen_ignores_bytes_after_len},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(int argc, char **argv) {
  size_t n = 0, total = COUNT(valid_cases) + COUNT(invalid_cases) +
                        COUNT(generated);
  struct CMUnitTest *tests = calloc(total, sizeof(*tests));
  int rc;

  if (tests == NULL)
    return 1;
  for (size_t i = 0; i < COUNT(valid_cases); i++) {
    tests[n].name = valid_cases[i].name;
    tests[n].test_func = run_valid;
    tests[n++].initial_state = &valid_cases[i];
  }
  for (size_t i = 0; i < COUNT(invalid_cases); i++) {
    tests[n].name = invalid_cases[i].name;
    tests[n].test_func = run_invalid;
    tests[n++].initial_state = &invalid_cases[i];
  }
  for (size_t i = 0; i < COUNT(generated); i++) {
    tests[n].name = generated[i].name;
    tests[n++].test_func = generated[i].fn;
  }
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  rc = _cmocka_run_group_tests("http1_parser", tests, n, NULL, NULL);
  free(tests);
  return rc;
}
