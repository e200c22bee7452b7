/* SPDX-License-Identifier: MIT */
/*
 * fuzz/http1_parser.c: the HTTP/1.1 request-head parser
 * (src/http1/parser.h), fed incrementally.
 *
 * Input: 8 control bytes, then the bytes a client sends.
 *   ctl[0]     limits: bits 0-2 pick max_header_bytes, bits 3-5
 *              max_target_bytes (tables below);
 *   ctl[1..7]  split points, each b * (len + 1) / 256.
 *
 * The server re-runs the parser over the accumulated prefix each time bytes
 * arrive; this target does the same at the split points (plus 0, len, the
 * head's end +-1, and the first prefix that fails), each prefix in its own
 * exact-size heap block, and checks the contract of parser.h:
 *  - the whole input decides: a head of H bytes (every prefix shorter than
 *    H is HCS_EAGAIN, every longer one gives H and the same fields), or
 *    HCS_EAGAIN (so is every prefix, and fewer than max_header_bytes
 *    bytes arrived), or an error E (every prefix is
 *    HCS_EAGAIN or E, and once E always E: the first offending byte
 *    decides);
 *  - an accepted head is well formed: slices inside the head, method and
 *    names tchar, target 0x21-0x7E within max_target_bytes, values without
 *    CR/LF/NUL nor surrounding SP/HTAB, the head within max_header_bytes
 *    and ending in CRLF CRLF, framing fields consistent, Host present in
 *    HTTP/1.1, Expect only in 1.1;
 *  - the accepted head written back in canonical form (single spaces,
 *    "name: value", no leading CRLFs) parses to the same request, with
 *    max_header_bytes exactly its length.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hcs/error.h"
#include "http1/parser.h"

#define CTL 8

static const size_t header_limits[8] = {16384, 8192, 1024, 256, 64, 17, 8, 1};
static const size_t target_limits[8] = {0, 8192, 100, 16, 8, 3, 1, 0};

typedef struct {
  ssize_t rc;
  hcs_http1_request_t req;
} result_t;

/* Check that slice s lies inside copy[0..head) and move it to buf. */
static void rebase(hcs_str_t *s, const char *copy, const char *buf,
                   size_t head) {
  if (s->len == 0)
    return;
  FUZZ_CHECK(s->base >= copy && (size_t)(s->base - copy) + s->len <= head,
             "slice outside the head");
  s->base = buf + (s->base - copy);
}

/* Parse buf[0..len) from an exact-size copy; slices are rebased to buf. */
static void parse_prefix(const char *buf, size_t len,
                         const hcs_http1_limits_t *lim, result_t *r) {
  char *copy = fuzz_dup(buf, len);
  memset(&r->req, 0, sizeof(r->req));
  r->rc = hcs_http1_parse_request(copy, len, lim, &r->req);
  if (r->rc >= 0) {
    hcs_http1_request_t *q = &r->req;
    size_t head = (size_t)r->rc;
    rebase(&q->method, copy, buf, head);
    rebase(&q->target, copy, buf, head);
    FUZZ_CHECK(q->num_headers <= HCS_HTTP1_MAX_HEADERS, "%zu headers",
               q->num_headers);
    for (size_t i = 0; i < q->num_headers; i++) {
      rebase(&q->headers[i].name, copy, buf, head);
      rebase(&q->headers[i].value, copy, buf, head);
    }
  }
  free(copy);
}

static bool same_str(hcs_str_t a, hcs_str_t b) {
  return a.len == b.len && (a.len == 0 || a.base == b.base);
}

static bool same_request(const hcs_http1_request_t *a,
                         const hcs_http1_request_t *b) {
  if (!same_str(a->method, b->method) || !same_str(a->target, b->target) ||
      a->minor_version != b->minor_version ||
      a->num_headers != b->num_headers || a->body != b->body ||
      a->content_length != b->content_length ||
      a->keep_alive != b->keep_alive ||
      a->expect_continue != b->expect_continue)
    return false;
  for (size_t i = 0; i < a->num_headers; i++)
    if (!same_str(a->headers[i].name, b->headers[i].name) ||
        !same_str(a->headers[i].value, b->headers[i].value))
      return false;
  return true;
}

static void check_head(const char *buf, const result_t *r,
                       const hcs_http1_limits_t *lim) {
  const hcs_http1_request_t *q = &r->req;
  size_t h = (size_t)r->rc;
  size_t max_target =
      lim->max_target_bytes ? lim->max_target_bytes : lim->max_header_bytes;

  FUZZ_CHECK(h >= 4 && memcmp(buf + h - 4, "\r\n\r\n", 4) == 0,
             "head of %zu bytes does not end in CRLF CRLF", h);
  FUZZ_CHECK(h <= lim->max_header_bytes, "head %zu > limit %zu", h,
             lim->max_header_bytes);
  FUZZ_CHECK(q->method.len > 0, "empty method");
  for (size_t i = 0; i < q->method.len; i++)
    FUZZ_CHECK(hcs_http1_is_tchar((unsigned char)q->method.base[i]),
               "method byte 0x%02x", (unsigned char)q->method.base[i]);
  FUZZ_CHECK(q->target.len > 0 && q->target.len <= max_target,
             "target of %zu bytes (limit %zu)", q->target.len, max_target);
  for (size_t i = 0; i < q->target.len; i++) {
    unsigned char c = (unsigned char)q->target.base[i];
    FUZZ_CHECK(c >= 0x21 && c <= 0x7e, "target byte 0x%02x", c);
  }
  FUZZ_CHECK(q->minor_version == 0 || q->minor_version == 1, "minor %d",
             q->minor_version);
  for (size_t i = 0; i < q->num_headers; i++) {
    hcs_str_t n = q->headers[i].name, v = q->headers[i].value;
    FUZZ_CHECK(n.len > 0, "empty field name");
    for (size_t j = 0; j < n.len; j++)
      FUZZ_CHECK(hcs_http1_is_tchar((unsigned char)n.base[j]),
                 "name byte 0x%02x", (unsigned char)n.base[j]);
    for (size_t j = 0; j < v.len; j++) {
      char c = v.base[j];
      FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0', "value byte 0x%02x",
                 (unsigned char)c);
    }
    if (v.len > 0) {
      char f = v.base[0], l = v.base[v.len - 1];
      FUZZ_CHECK(f != ' ' && f != '\t' && l != ' ' && l != '\t',
                 "value not trimmed");
    }
  }
  switch (q->body) {
  case HCS_HTTP1_BODY_NONE:
  case HCS_HTTP1_BODY_CHUNKED:
    FUZZ_CHECK(q->content_length == 0, "content_length %llu without LENGTH",
               (unsigned long long)q->content_length);
    break;
  case HCS_HTTP1_BODY_LENGTH:
    FUZZ_CHECK(q->content_length > 0 && q->content_length <= INT64_MAX,
               "content_length %llu", (unsigned long long)q->content_length);
    break;
  default:
    FUZZ_CHECK(0, "body %d", (int)q->body);
  }
  int cl = hcs_http1_find_header(q, "content-length");
  int te = hcs_http1_find_header(q, "transfer-encoding");
  FUZZ_CHECK(cl < 0 || te < 0, "both Content-Length and Transfer-Encoding");
  FUZZ_CHECK(q->body != HCS_HTTP1_BODY_CHUNKED || te >= 0,
             "chunked without Transfer-Encoding");
  FUZZ_CHECK(te < 0 || q->minor_version == 1, "Transfer-Encoding in 1.0");
  FUZZ_CHECK(q->body != HCS_HTTP1_BODY_LENGTH || cl >= 0,
             "length without Content-Length");
  FUZZ_CHECK(q->minor_version == 0 || hcs_http1_find_header(q, "host") >= 0,
             "HTTP/1.1 without Host");
  FUZZ_CHECK(!q->expect_continue || q->minor_version == 1,
             "expect_continue in 1.0");
  FUZZ_CHECK(!q->expect_continue || hcs_http1_find_header(q, "expect") >= 0,
             "expect_continue without Expect");
}

/*
 * An accepted head written back in canonical form ("name: value", single
 * spaces, no leading CRLFs) parses to the same request.
 */
static void check_reserialized(const result_t *r,
                               const hcs_http1_limits_t *lim) {
  const hcs_http1_request_t *q = &r->req;
  size_t cap = q->method.len + q->target.len + 16, n = 0;
  for (size_t i = 0; i < q->num_headers; i++)
    cap += q->headers[i].name.len + q->headers[i].value.len + 4;
  char *buf = malloc(cap + 2);
  if (buf == NULL)
    abort();
#define PUT(p, l) (memcpy(buf + n, (p), (l)), n += (l))
  PUT(q->method.base, q->method.len);
  PUT(" ", 1);
  PUT(q->target.base, q->target.len);
  PUT(q->minor_version ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
  for (size_t i = 0; i < q->num_headers; i++) {
    PUT(q->headers[i].name.base, q->headers[i].name.len);
    PUT(": ", 2);
    if (q->headers[i].value.len > 0)
      PUT(q->headers[i].value.base, q->headers[i].value.len);
    PUT("\r\n", 2);
  }
  PUT("\r\n", 2);
#undef PUT
  hcs_http1_limits_t big = {n, lim->max_target_bytes ? lim->max_target_bytes
                                                     : lim->max_header_bytes};
  static result_t again;
  parse_prefix(buf, n, &big, &again);
  if (again.rc != (ssize_t)n)
    fuzz_dump("canonical form", buf, n);
  FUZZ_CHECK(again.rc == (ssize_t)n, "canonical form of %zu bytes gave %zd", n,
             again.rc);
  const hcs_http1_request_t *a = &again.req;
  FUZZ_CHECK(a->method.len == q->method.len && a->target.len == q->target.len &&
                 a->minor_version == q->minor_version &&
                 a->num_headers == q->num_headers && a->body == q->body &&
                 a->content_length == q->content_length &&
                 a->keep_alive == q->keep_alive &&
                 a->expect_continue == q->expect_continue,
             "canonical form parses differently");
  for (size_t i = 0; i < q->num_headers; i++)
    FUZZ_CHECK(a->headers[i].value.len == q->headers[i].value.len &&
                   (a->headers[i].value.len == 0 ||
                    memcmp(a->headers[i].value.base, q->headers[i].value.base,
                           a->headers[i].value.len) == 0),
               "field %zu's value differs in canonical form", i);
  free(buf);
}

static void add_point(size_t *pts, size_t *n, size_t p, size_t len) {
  if (p > len)
    return;
  for (size_t i = 0; i < *n; i++)
    if (pts[i] == p)
      return;
  size_t j = (*n)++;
  for (; j > 0 && pts[j - 1] > p; j--)
    pts[j] = pts[j - 1];
  pts[j] = p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static result_t whole, part;
  if (size < CTL)
    return 0;
  const char *buf = (const char *)data + CTL;
  size_t len = size - CTL;
  hcs_http1_limits_t lim = {header_limits[data[0] & 7],
                            target_limits[(data[0] >> 3) & 7]};

  parse_prefix(buf, len, &lim, &whole);
  ssize_t R = whole.rc;
  FUZZ_CHECK(R == HCS_EAGAIN || R == HCS_EBADREQUEST || R == HCS_EURITOOLONG ||
                 R == HCS_EHEADERTOOBIG || R == HCS_EBADVERSION ||
                 R == HCS_ENOTIMPL || R == HCS_EEXPECT ||
                 (R > 0 && (size_t)R <= len),
             "unexpected result %zd for %zu bytes", R, len);
  FUZZ_CHECK(R != HCS_EAGAIN || len < lim.max_header_bytes,
             "EAGAIN with %zu bytes, max_header_bytes %zu", len,
             lim.max_header_bytes);
  if (R > 0) {
    check_head(buf, &whole, &lim);
    check_reserialized(&whole, &lim);
  }

  size_t pts[7 + 8], n = fuzz_split_points(data + 1, 7, len, pts);
  add_point(pts, &n, 0, len);
  add_point(pts, &n, len, len);
  if (R > 0) {
    add_point(pts, &n, (size_t)R - 1, len);
    add_point(pts, &n, (size_t)R, len);
    add_point(pts, &n, (size_t)R + 1, len);
  } else if (R != HCS_EAGAIN) {
    /* The shortest failing prefix, by bisection (monotone, checked below). */
    size_t lo = 0, hi = len; /* parse(lo) is EAGAIN (len 0), parse(hi) fails */
    while (hi - lo > 1) {
      size_t mid = lo + (hi - lo) / 2;
      parse_prefix(buf, mid, &lim, &part);
      if (part.rc == HCS_EAGAIN)
        lo = mid;
      else
        hi = mid;
    }
    add_point(pts, &n, lo, len);
    add_point(pts, &n, hi, len);
  }

  bool failed = false;
  for (size_t i = 0; i < n; i++) {
    size_t p = pts[i];
    parse_prefix(buf, p, &lim, &part);
    if (R > 0) {
      if (p < (size_t)R) {
        if (part.rc != HCS_EAGAIN)
          fuzz_dump("input", buf, len);
        FUZZ_CHECK(part.rc == HCS_EAGAIN,
                   "prefix %zu of a %zd-byte head gave %zd", p, R, part.rc);
      } else {
        FUZZ_CHECK(part.rc == R, "prefix %zu gave %zd, whole input %zd", p,
                   part.rc, R);
        FUZZ_CHECK(same_request(&part.req, &whole.req),
                   "prefix %zu: fields differ from the whole input's", p);
      }
    } else if (R == HCS_EAGAIN) {
      FUZZ_CHECK(part.rc == HCS_EAGAIN, "prefix %zu gave %zd, whole EAGAIN", p,
                 part.rc);
    } else {
      if (part.rc != HCS_EAGAIN && part.rc != R)
        fuzz_dump("input", buf, len);
      FUZZ_CHECK(part.rc == HCS_EAGAIN || part.rc == R,
                 "prefix %zu gave %zd (%s), whole input %zd (%s)", p, part.rc,
                 hcs_err_name((int)part.rc), R, hcs_err_name((int)R));
      FUZZ_CHECK(!failed || part.rc == R,
                 "prefix %zu is EAGAIN after a shorter one failed", p);
      failed = failed || part.rc == R;
    }
  }
  return 0;
}
