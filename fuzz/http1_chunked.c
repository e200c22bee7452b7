/* SPDX-License-Identifier: MIT */
/*
 * fuzz/http1_chunked.c: the incremental chunked-body decoder
 * (src/http1/chunked.h).
 *
 * Input: 8 control bytes, then bytes.
 *   ctl[0] bit 0   0: the bytes are a chunked body as a client sends it;
 *                  1: the bytes are a body, which the harness encodes
 *                  itself (chunk sizes, leading zeros, hex case, extensions,
 *                  trailers drawn from a generator seeded with ctl) and
 *                  follows with the next request's bytes;
 *   ctl[1..7]      split points, each b * (len + 1) / 256.
 *
 * Checks (chunked.h):
 *  - one call over everything: result 1 (consumed <= len), 0 (all consumed)
 *    or HCS_EBADREQUEST; out_len <= consumed; a finished decoder answers 1
 *    and a failed one HCS_EBADREQUEST, consuming nothing, forever after;
 *  - decoding in place gives the same result, count and bytes;
 *  - the same input fed in pieces at the split points, each piece in its
 *    own exact-size heap block decoded in place, gives the same result, the
 *    same decoded bytes and the same total consumed;
 *  - mode 1: the result is 1, the decoded bytes are the body and exactly the
 *    encoding is consumed (not the bytes after it).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hcs/error.h"
#include "http1/chunked.h"

#define CTL 8

typedef struct {
  int rc;
  size_t consumed; /* total input bytes used */
  size_t out_len;  /* decoded bytes, in out */
  char *out;
} decoded_t;

static void check_call(int rc, size_t in_len, size_t out_len, size_t used) {
  FUZZ_CHECK(rc == 0 || rc == 1 || rc == HCS_EBADREQUEST, "result %d", rc);
  FUZZ_CHECK(used <= in_len, "consumed %zu of %zu", used, in_len);
  FUZZ_CHECK(out_len <= used, "wrote %zu from %zu bytes", out_len, used);
  FUZZ_CHECK(rc != 0 || used == in_len, "result 0 but consumed %zu of %zu",
             used, in_len);
}

/* After a final answer (1 or an error), the decoder repeats it and takes
 * nothing more. */
static void check_sticky(hcs_chunked_decoder_t *d, int rc) {
  char more[4] = {'0', '\r', '\n', 'x'}, out[4];
  size_t out_len = 99, used = 99;
  int again = hcs_chunked_decode(d, more, sizeof(more), out, &out_len, &used);
  FUZZ_CHECK(again == rc && used == 0 && out_len == 0,
             "after %d: %d, consumed %zu, wrote %zu", rc, again, used, out_len);
}

/* One call over in[0..len), into a separate buffer or in place. */
static void decode_whole(const char *in, size_t len, bool in_place,
                         decoded_t *r) {
  hcs_chunked_decoder_t d;
  char *src = fuzz_dup(in, len);
  r->out = in_place ? src : fuzz_dup(in, len);
  hcs_chunked_decoder_init(&d);
  r->rc = hcs_chunked_decode(&d, src, len, r->out, &r->out_len, &r->consumed);
  check_call(r->rc, len, r->out_len, r->consumed);
  if (r->rc != 0)
    check_sticky(&d, r->rc);
  if (!in_place)
    free(src);
}

/* The same bytes in pieces ending at pts[0..npts) (then len). */
static void decode_split(const char *in, size_t len, const size_t *pts,
                         size_t npts, decoded_t *r) {
  hcs_chunked_decoder_t d;
  size_t start = 0;
  hcs_chunked_decoder_init(&d);
  r->out = fuzz_dup(NULL, 0);
  r->out_len = r->consumed = 0;
  r->rc = 0;
  for (size_t i = 0; i <= npts; i++) {
    size_t end = i < npts ? pts[i] : len;
    if (end < start)
      continue;
    char *piece = fuzz_dup(in + start, end - start);
    size_t out_len = 99, used = 99;
    int rc = hcs_chunked_decode(&d, piece, end - start, piece, &out_len, &used);
    if (r->rc != 0) {
      /* Already final: repeats itself, takes nothing. */
      FUZZ_CHECK(rc == r->rc && used == 0 && out_len == 0,
                 "after %d: %d, consumed %zu, wrote %zu", r->rc, rc, used,
                 out_len);
    } else {
      check_call(rc, end - start, out_len, used);
      r->out = realloc(r->out, r->out_len + out_len + 1);
      if (r->out == NULL)
        abort();
      if (out_len > 0)
        memcpy(r->out + r->out_len, piece, out_len);
      r->out_len += out_len;
      r->consumed += used;
      r->rc = rc;
    }
    free(piece);
    start = end;
  }
}

static void compare(const char *what, const decoded_t *a, const decoded_t *b) {
  FUZZ_CHECK(a->rc == b->rc, "%s: result %d, whole input %d", what, b->rc,
             a->rc);
  FUZZ_CHECK(a->consumed == b->consumed, "%s: consumed %zu, whole input %zu",
             what, b->consumed, a->consumed);
  FUZZ_CHECK(a->out_len == b->out_len, "%s: %zu bytes, whole input %zu", what,
             b->out_len, a->out_len);
  FUZZ_CHECK(a->out_len == 0 || memcmp(a->out, b->out, a->out_len) == 0,
             "%s: decoded bytes differ", what);
}

/* ---- mode 1: encode a body, then decode it ------------------------------- */

typedef struct {
  uint64_t s;
} rng_t;

static uint32_t rnd(rng_t *g, uint32_t n) { /* in [0, n) */
  g->s ^= g->s << 13;
  g->s ^= g->s >> 7;
  g->s ^= g->s << 17;
  return n ? (uint32_t)(g->s % n) : 0;
}

typedef struct {
  char *p;
  size_t len, cap;
} sbuf_t;

static void put(sbuf_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    if (b->p == NULL)
      abort();
  }
  if (n > 0)
    memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void puts_(sbuf_t *b, const char *s) {
  put(b, s, strlen(s));
}

static void put_size(sbuf_t *b, rng_t *g, uint64_t size) {
  char hex[17];
  int n = 0;
  const char *digits = rnd(g, 2) ? "0123456789abcdef" : "0123456789ABCDEF";
  do {
    hex[n++] = digits[size & 15];
    size >>= 4;
  } while (size);
  int zeros = rnd(g, 4) == 0 ? (int)rnd(g, (uint32_t)(17 - n)) : 0;
  for (int i = 0; i < zeros; i++)
    put(b, "0", 1);
  while (n > 0)
    put(b, &hex[--n], 1);
}

static void put_ext(sbuf_t *b, rng_t *g) {
  static const char *const exts[] = {";a=b",
                                     " ;name",
                                     "\t;x=\"quoted; \\\"value\"",
                                     ";ieof",
                                     ";a;b=c;d",
                                     " \t ;sig=0123456789abcdef",
                                     ";\x80\xff=obs-text"};
  uint32_t k = rnd(g, 3);
  for (uint32_t i = 0; i < k; i++)
    puts_(b, exts[rnd(g, sizeof(exts) / sizeof(exts[0]))]);
}

static void encode(const char *body, size_t len, rng_t *g, sbuf_t *b) {
  size_t pos = 0;
  while (pos < len) {
    size_t n = 1 + rnd(g, rnd(g, 4) == 0 ? (uint32_t)(len - pos) : 16);
    if (n > len - pos)
      n = len - pos;
    put_size(b, g, n);
    put_ext(b, g);
    puts_(b, "\r\n");
    put(b, body + pos, n);
    puts_(b, "\r\n");
    pos += n;
  }
  put_size(b, g, 0);
  put_ext(b, g);
  puts_(b, "\r\n");
  static const char *const trailers[] = {
      "Expires: Wed, 21 Oct 2015 07:28:00 GMT\r\n", "X-Checksum:abc\r\n",
      "x-empty:\r\n", "Server-Timing: total;dur=12.5\t\r\n",
      "X-Obs: caf\xc3\xa9\r\n"};
  uint32_t k = rnd(g, 3);
  for (uint32_t i = 0; i < k; i++)
    puts_(b, trailers[rnd(g, sizeof(trailers) / sizeof(trailers[0]))]);
  puts_(b, "\r\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < CTL)
    return 0;
  const char *in = (const char *)data + CTL;
  size_t len = size - CTL, encoded_len = 0;
  sbuf_t enc = {0};
  if (data[0] & 1) {
    rng_t g = {0x9e3779b97f4a7c15u};
    for (int i = 0; i < CTL; i++)
      g.s = (g.s ^ data[i]) * 0x100000001b3u;
    if (g.s == 0)
      g.s = 1;
    encode(in, len, &g, &enc);
    encoded_len = enc.len;
    puts_(&enc, "GET /next HTTP/1.1\r\n"); /* the next request: not ours */
    in = enc.p;
    len = enc.len;
  }

  decoded_t whole, in_place, split;
  decode_whole(in, len, false, &whole);
  decode_whole(in, len, true, &in_place);
  compare("in place", &whole, &in_place);

  size_t pts[7];
  size_t npts = fuzz_split_points(data + 1, 7, len, pts);
  decode_split(in, len, pts, npts, &split);
  if (whole.rc != split.rc || whole.consumed != split.consumed)
    fuzz_dump("input", in, len);
  compare("split", &whole, &split);

  if (data[0] & 1) {
    const char *body = (const char *)data + CTL;
    size_t body_len = size - CTL;
    if (whole.rc != 1 || whole.consumed != encoded_len)
      fuzz_dump("encoding", in, len);
    FUZZ_CHECK(whole.rc == 1, "own encoding: result %d", whole.rc);
    FUZZ_CHECK(whole.consumed == encoded_len,
               "own encoding: consumed %zu of %zu", whole.consumed,
               encoded_len);
    FUZZ_CHECK(whole.out_len == body_len &&
                   (body_len == 0 || memcmp(whole.out, body, body_len) == 0),
               "own encoding: decoded %zu bytes, body has %zu", whole.out_len,
               body_len);
  }
  free(whole.out);
  free(in_place.out);
  free(split.out);
  free(enc.p);
  return 0;
}
