/* SPDX-License-Identifier: MIT */
/*
 * test_http1_chunked.c: unit tests for the incremental chunked-body decoder
 * (src/http1/chunked.c).
 *
 * One case table of valid, incomplete and invalid bodies, each row its own
 * cmocka test ("ok/...", "more/...", "bad/..."; run one with
 * ./test_http1_chunked 'bad/size_*'). Every row is decoded five ways: in
 * one call into a separate buffer; in one call in place; in two pieces at
 * every split point, into a separate buffer and in place; and one byte per
 * call. All must give the same result, the same decoded bytes and the same
 * number of consumed bytes. Each piece lives in an exact-size heap copy so
 * that AddressSanitizer catches a read past its end. Generated tests
 * ("gen/...") cover the line and trailer limits and every byte value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hcs/error.h"
#include "http1/chunked.h"

/* ---- helpers ------------------------------------------------------------ */

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

static const char *rc_name(int rc) {
  return rc == 1 ? "COMPLETE" : rc == 0 ? "MORE" : hcs_err_name(rc);
}

/* What one way of feeding the input produced. */
typedef struct {
  int rc;
  size_t consumed;
  char *out; /* malloc'd, out_len bytes */
  size_t out_len;
} outcome_t;

static void outcome_free(outcome_t *o) {
  free(o->out);
  o->out = NULL;
}

/*
 * Feed in[0..len) in pieces ending at the offsets in cuts[] (the last one
 * must be len), stopping at the first call that does not return 0.
 * in_place decodes each piece onto itself.
 */
static outcome_t feed(const char *in, size_t len, const size_t *cuts,
                      size_t ncuts, bool in_place) {
  hcs_chunked_decoder_t d;
  outcome_t o = {0, 0, malloc(len ? len : 1), 0};
  size_t at = 0;
  assert_non_null(o.out);
  hcs_chunked_decoder_init(&d);
  for (size_t i = 0; i < ncuts; i++) {
    size_t n = cuts[i] - at, got = 99999, used = 99999;
    char *piece = malloc(n ? n : 1), *dst;
    assert_non_null(piece);
    memcpy(piece, in + at, n);
    dst = in_place ? piece : malloc(n ? n : 1);
    assert_non_null(dst);
    o.rc = hcs_chunked_decode(&d, piece, n, dst, &got, &used);
    assert_true(got <= n);
    assert_true(used <= n);
    if (o.rc == 0)
      assert_int_equal(used, n); /* "more" consumes everything */
    memcpy(o.out + o.out_len, dst, got);
    o.out_len += got;
    o.consumed += used;
    if (!in_place)
      free(dst);
    free(piece);
    at = cuts[i];
    if (o.rc != 0)
      break;
  }
  return o;
}

static void check_outcome(const outcome_t *got, const outcome_t *want,
                          const char *how, const char *in, size_t len) {
  if (got->rc == want->rc && got->consumed == want->consumed &&
      got->out_len == want->out_len &&
      memcmp(got->out, want->out, got->out_len) == 0)
    return;
  print_error("%s: got %d (%s) consumed %zu, want %d (%s) consumed %zu\n",
              how, got->rc, rc_name(got->rc), got->consumed, want->rc,
              rc_name(want->rc), want->consumed);
  print_bytes("  input     ", in, len);
  print_bytes("  got out   ", got->out, got->out_len);
  print_bytes("  want out  ", want->out, want->out_len);
  fail();
}

/* ---- case table --------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *in;
  size_t len;
  int want;          /* 1 complete, 0 more, HCS_EBADREQUEST            */
  const char *out;   /* decoded bytes (for errors: those before it)    */
  size_t out_len;
  size_t tail;       /* complete rows: bytes after the body            */
} ccase_t;

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define OUT(s) .out = (s), .out_len = sizeof(s) - 1
#define BAD HCS_EBADREQUEST

static ccase_t cases[] = {
    /* complete bodies */
    {"ok/empty_body", IN("0\r\n\r\n"), 1, OUT("")},
    {"ok/one_chunk", IN("5\r\nhello\r\n0\r\n\r\n"), 1, OUT("hello")},
    {"ok/two_chunks", IN("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), 1,
     OUT("hello world")},
    {"ok/hex_upper", IN("A\r\n0123456789\r\n0\r\n\r\n"), 1, OUT("0123456789")},
    {"ok/hex_lower", IN("a\r\n0123456789\r\n0\r\n\r\n"), 1, OUT("0123456789")},
    {"ok/hex_two_digits", IN("1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"),
     1, OUT("abcdefghijklmnopqrstuvwxyz")},
    {"ok/leading_zeros", IN("0005\r\nhello\r\n0000\r\n\r\n"), 1, OUT("hello")},
    {"ok/sixteen_digits", IN("0000000000000005\r\nhello\r\n0\r\n\r\n"), 1,
     OUT("hello")},
    {"ok/data_holds_crlf", IN("4\r\n\r\n\r\n\r\n0\r\n\r\n"), 1, OUT("\r\n\r\n")},
    {"ok/data_holds_nul_and_high", IN("3\r\n\0\xff\x80\r\n0\r\n\r\n"), 1,
     OUT("\0\xff\x80")},
    {"ok/data_looks_like_chunk", IN("5\r\n0\r\n\r\n\r\n0\r\n\r\n"), 1,
     OUT("0\r\n\r\n")},
    {"ok/ext_name", IN("5;foo\r\nhello\r\n0;bar\r\n\r\n"), 1, OUT("hello")},
    {"ok/ext_name_value", IN("5;a=b;c=\"d e\"\r\nhello\r\n0\r\n\r\n"), 1,
     OUT("hello")},
    {"ok/ext_bws", IN("5 ;a\r\nhello\r\n0\t;b\r\n\r\n"), 1, OUT("hello")},
    {"ok/ext_bws_many", IN("5 \t ; a = b\r\nhello\r\n0\r\n\r\n"), 1,
     OUT("hello")},
    {"ok/ext_tab_and_obs_text", IN("5;a=\"\t\xe9\"\r\nhello\r\n0\r\n\r\n"), 1,
     OUT("hello")},
    {"ok/trailer_one", IN("5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"), 1,
     OUT("hello")},
    {"ok/trailer_two", IN("0\r\nA: 1\r\nB:2\r\n\r\n"), 1, OUT("")},
    {"ok/trailer_empty_value", IN("0\r\nA:\r\n\r\n"), 1, OUT("")},
    {"ok/trailer_value_text", IN("0\r\nA: x\ty \xc3\xa9 \"q\"\r\n\r\n"), 1,
     OUT("")},
    {"ok/trailer_tchar_name", IN("0\r\n!#$%&'*+-.^_`|~9z: v\r\n\r\n"), 1,
     OUT("")},
    {"ok/tail_not_consumed", IN("0\r\n\r\nGET / HTTP/1.1\r\n"), 1, OUT(""),
     .tail = 16},
    {"ok/tail_after_trailers", IN("1\r\nx\r\n0\r\nT: v\r\n\r\n0\r\n\r\n"), 1,
     OUT("x"), .tail = 5},
    {"ok/tail_bad_bytes_ignored", IN("0\r\n\r\n\n\0\r"), 1, OUT(""),
     .tail = 3},

    /* valid but incomplete */
    {"more/nothing", IN(""), 0, OUT("")},
    {"more/size_only", IN("5"), 0, OUT("")},
    {"more/size_cr", IN("5\r"), 0, OUT("")},
    {"more/in_ext", IN("5;a=b"), 0, OUT("")},
    {"more/in_data", IN("5\r\nhel"), 0, OUT("hel")},
    {"more/after_data", IN("5\r\nhello"), 0, OUT("hello")},
    {"more/after_data_cr", IN("5\r\nhello\r"), 0, OUT("hello")},
    {"more/after_chunk", IN("5\r\nhello\r\n"), 0, OUT("hello")},
    {"more/last_chunk", IN("0\r\n"), 0, OUT("")},
    {"more/in_trailer", IN("0\r\nX: y"), 0, OUT("")},
    {"more/after_trailer", IN("0\r\nX: y\r\n"), 0, OUT("")},
    {"more/final_cr", IN("0\r\n\r"), 0, OUT("")},
    {"more/max_size_announced", IN("7fffffffffffffff\r\nab"), 0, OUT("ab")},

    /* chunk-size */
    {"bad/size_empty", IN("\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_not_hex", IN("g\r\n"), BAD, OUT("")},
    {"bad/size_ext_only", IN(";a\r\n"), BAD, OUT("")},
    {"bad/size_leading_space", IN(" 5\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_leading_tab", IN("\t5\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_plus", IN("+5\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_minus", IN("-5\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_0x", IN("0x5\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_inner_space", IN("1 0\r\n"), BAD, OUT("")},
    {"bad/size_trailing_space", IN("5 \r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_trailing_tab", IN("5\t\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_2_63", IN("8000000000000000\r\n"), BAD, OUT("")},
    {"bad/size_2_64_minus_1", IN("ffffffffffffffff\r\n"), BAD, OUT("")},
    {"bad/size_2_64", IN("10000000000000000\r\n"), BAD, OUT("")},
    {"bad/size_wraps_to_5", IN("10000000000000005\r\nhello\r\n0\r\n\r\n"), BAD,
     OUT("")},
    {"bad/size_17_digits_leading_zeros",
     IN("00000000000000005\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_bare_lf", IN("5\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_bare_cr", IN("5\rhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/size_nul", IN("5\0\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/last_chunk_bare_lf", IN("0\n\r\n"), BAD, OUT("")},

    /* chunk-ext */
    {"bad/ext_ctl", IN("5;a\x01\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/ext_nul", IN("5;a\0\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/ext_del", IN("5;a\x7f\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/ext_bare_lf", IN("5;a\nb\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/ext_bare_lf_in_quotes", IN("5;a=\"\n\"\r\nhello\r\n0\r\n\r\n"), BAD,
     OUT("")},
    {"bad/ext_bare_cr", IN("5;a\rb\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},
    {"bad/bws_then_text", IN("5 a\r\nhello\r\n0\r\n\r\n"), BAD, OUT("")},

    /* CRLF after data */
    {"bad/data_too_long", IN("3\r\nhello\r\n0\r\n\r\n"), BAD, OUT("hel")},
    {"bad/data_too_short", IN("6\r\nhello\r\n0\r\n\r\n"), BAD,
     OUT("hello\r")},
    {"bad/data_no_crlf", IN("5\r\nhello0\r\n\r\n"), BAD, OUT("hello")},
    {"bad/data_bare_lf", IN("5\r\nhello\n0\r\n\r\n"), BAD, OUT("hello")},
    {"bad/data_bare_cr", IN("5\r\nhello\r0\r\n\r\n"), BAD, OUT("hello")},
    {"bad/data_cr_cr", IN("5\r\nhello\r\r\n0\r\n\r\n"), BAD, OUT("hello")},
    {"bad/data_then_space", IN("5\r\nhello \r\n0\r\n\r\n"), BAD, OUT("hello")},
    {"bad/second_chunk_bad", IN("1\r\na\r\nz\r\n"), BAD, OUT("a")},

    /* trailers and the final CRLF */
    {"bad/final_bare_lf", IN("0\r\n\n"), BAD, OUT("")},
    {"bad/final_bare_cr", IN("0\r\n\rX"), BAD, OUT("")},
    {"bad/trailer_obs_fold", IN("0\r\nX: 1\r\n 2\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_obs_fold_tab", IN("0\r\nX: 1\r\n\t2\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_leading_space", IN("0\r\n X: 1\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_space_before_colon", IN("0\r\nX : 1\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_empty_name", IN("0\r\n: 1\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_no_colon", IN("0\r\nX\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_name_non_tchar", IN("0\r\nX(Y): 1\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_nul_in_value", IN("0\r\nX: a\0b\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_ctl_in_value", IN("0\r\nX: a\x0b" "b\r\n\r\n"), BAD,
     OUT("")},
    {"bad/trailer_del_in_value", IN("0\r\nX: a\x7f\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_bare_cr_in_value", IN("0\r\nX: a\rb\r\n\r\n"), BAD, OUT("")},
    {"bad/trailer_bare_lf", IN("0\r\nX: 1\n\r\n"), BAD, OUT("")},
    {"bad/trailer_after_data", IN("5\r\nhello\r\n0\r\nX: 1\r\n\n"), BAD,
     OUT("hello")},
    {"bad/not_a_trailer", IN("0\r\nhello\r\n\r\n"), BAD, OUT("")},
};

/* ---- table runner ------------------------------------------------------- */

static void run_case(void **state) {
  const ccase_t *c = *state;
  outcome_t want = {c->want, 0, (char *)c->out, c->out_len}, got;
  size_t cuts[2], *bytes;

  /* For errors the consumed count is not part of the contract. */
  want.consumed = c->want == 1 ? c->len - c->tail : c->len;

  got = feed(c->in, c->len, &c->len, 1, false);
  if (c->want < 0)
    want.consumed = got.consumed;
  check_outcome(&got, &want, "one call", c->in, c->len);
  outcome_free(&got);

  got = feed(c->in, c->len, &c->len, 1, true);
  check_outcome(&got, &want, "one call in place", c->in, c->len);
  outcome_free(&got);

  for (size_t k = 0; k <= c->len; k++) {
    char how[64];
    cuts[0] = k;
    cuts[1] = c->len;
    for (int in_place = 0; in_place < 2; in_place++) {
      got = feed(c->in, c->len, cuts, 2, in_place);
      snprintf(how, sizeof(how), "split at %zu%s", k,
               in_place ? ", in place" : "");
      check_outcome(&got, &want, how, c->in, c->len);
      outcome_free(&got);
    }
  }

  bytes = malloc((c->len + 1) * sizeof(*bytes));
  assert_non_null(bytes);
  for (size_t k = 0; k < c->len; k++)
    bytes[k] = k + 1;
  if (c->len > 0) {
    got = feed(c->in, c->len, bytes, c->len, false);
    check_outcome(&got, &want, "byte by byte", c->in, c->len);
    outcome_free(&got);
  }
  free(bytes);
}

/* ---- generated tests ---------------------------------------------------- */

static int decode_all(const char *in, size_t len, size_t *out_len,
                      size_t *consumed) {
  hcs_chunked_decoder_t d;
  char *out = malloc(len ? len : 1);
  int rc;
  assert_non_null(out);
  hcs_chunked_decoder_init(&d);
  rc = hcs_chunked_decode(&d, in, len, out, out_len, consumed);
  free(out);
  return rc;
}

static void check_rc(int got, int want, const char *in, size_t len) {
  if (got == want)
    return;
  print_error("result: got %d (%s), want %d (%s)\n", got, rc_name(got), want,
              rc_name(want));
  print_bytes("  input", in, len);
  fail();
}

/* The size line may be HCS_CHUNKED_MAX_LINE bytes (CRLF not counted). */
static void gen_size_line_limit(void **state) {
  size_t cap = HCS_CHUNKED_MAX_LINE + 64;
  char *buf = malloc(cap);
  size_t out_len, used;
  assert_non_null(buf);
  for (size_t line = HCS_CHUNKED_MAX_LINE - 1; line <= HCS_CHUNKED_MAX_LINE + 1;
       line++) {
    size_t n = 0;
    buf[n++] = '1';
    buf[n++] = ';';
    memset(buf + n, 'e', line - 2);
    n += line - 2;
    memcpy(buf + n, "\r\nx\r\n0\r\n\r\n", 10);
    n += 10;
    check_rc(decode_all(buf, n, &out_len, &used),
             line <= HCS_CHUNKED_MAX_LINE ? 1 : HCS_EBADREQUEST, buf, 32);
  }
  /* Whitespace before ';' counts too. */
  memset(buf, ' ', cap);
  buf[0] = '1';
  check_rc(decode_all(buf, HCS_CHUNKED_MAX_LINE + 1, &out_len, &used),
           HCS_EBADREQUEST, buf, 32);
  check_rc(decode_all(buf, HCS_CHUNKED_MAX_LINE, &out_len, &used), 0, buf, 32);
  free(buf);
}

/* An endless extension is refused once it passes the limit. */
static void gen_endless_extension(void **state) {
  size_t n = 4 * HCS_CHUNKED_MAX_LINE, out_len, used;
  char *buf = malloc(n);
  assert_non_null(buf);
  memset(buf, 'e', n);
  buf[0] = '5';
  buf[1] = ';';
  check_rc(decode_all(buf, n, &out_len, &used), HCS_EBADREQUEST, buf, 32);
  assert_true(used <= HCS_CHUNKED_MAX_LINE + 1);
  free(buf);
}

/* Trailer lines, CRLFs included, may total HCS_CHUNKED_MAX_TRAILER bytes. */
static void gen_trailer_limit(void **state) {
  size_t cap = HCS_CHUNKED_MAX_TRAILER + 256;
  char *buf = malloc(cap);
  size_t out_len, used;
  assert_non_null(buf);
  for (size_t total = HCS_CHUNKED_MAX_TRAILER - 1;
       total <= HCS_CHUNKED_MAX_TRAILER + 1; total++) {
    /* Lines "T: vvvv\r\n" of at most 100 bytes, then one to fill up. */
    size_t n = 0, left = total;
    memcpy(buf, "0\r\n", 3);
    n = 3;
    while (left > 0) {
      size_t line = left > 100 ? 100 : left;
      if (left - line > 0 && left - line < 5)
        line -= 5; /* keep the last line long enough for "T:\r\n" + 1 */
      memcpy(buf + n, "T:", 2);
      memset(buf + n + 2, 'v', line - 4);
      memcpy(buf + n + line - 2, "\r\n", 2);
      n += line;
      left -= line;
    }
    memcpy(buf + n, "\r\n", 2);
    n += 2;
    check_rc(decode_all(buf, n, &out_len, &used),
             total <= HCS_CHUNKED_MAX_TRAILER ? 1 : HCS_EBADREQUEST, buf, 32);
  }
  free(buf);
}

/* A body split into many chunks decodes to the concatenation. */
static void gen_many_chunks(void **state) {
  char in[8192], want[4096];
  size_t n = 0, w = 0;
  for (int i = 1; i <= 60; i++) {
    n += (size_t)sprintf(in + n, "%x\r\n", i);
    for (int j = 0; j < i; j++) {
      in[n++] = (char)('a' + (i + j) % 26);
      want[w++] = (char)('a' + (i + j) % 26);
    }
    memcpy(in + n, "\r\n", 2);
    n += 2;
  }
  memcpy(in + n, "0\r\n\r\n", 5);
  n += 5;
  {
    ccase_t c = {"gen", in, n, 1, want, w, 0};
    void *st = &c;
    run_case(&st);
  }
}

/* Every byte value where a size digit may be: only HEXDIG passes. */
static void gen_every_byte_as_size(void **state) {
  for (int b = 0; b < 256; b++) {
    char in[] = "?\r\n";
    size_t out_len, used;
    bool hex = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') ||
               (b >= 'A' && b <= 'F');
    in[0] = (char)b;
    if (decode_all(in, 3, &out_len, &used) != (hex ? 0 : HCS_EBADREQUEST))
      print_error("byte 0x%02x\n", b);
    check_rc(decode_all(in, 3, &out_len, &used), hex ? 0 : HCS_EBADREQUEST,
             in, 3);
  }
}

/* Every byte value in an extension and in a trailer value. */
static void gen_every_byte_in_ext_and_trailer(void **state) {
  for (int b = 0; b < 256; b++) {
    char ext[] = "1;a?b\r\nx\r\n0\r\n\r\n", tr[] = "0\r\nT: a?b\r\n\r\n";
    size_t out_len, used;
    bool ok = b == '\t' || (b >= 0x20 && b != 0x7f);
    ext[3] = (char)b;
    tr[6] = (char)b;
    if (decode_all(ext, sizeof(ext) - 1, &out_len, &used) !=
        (ok ? 1 : HCS_EBADREQUEST))
      print_error("ext byte 0x%02x\n", b);
    check_rc(decode_all(ext, sizeof(ext) - 1, &out_len, &used),
             ok ? 1 : HCS_EBADREQUEST, ext, sizeof(ext) - 1);
    if (decode_all(tr, sizeof(tr) - 1, &out_len, &used) !=
        (ok ? 1 : HCS_EBADREQUEST))
      print_error("trailer byte 0x%02x\n", b);
    check_rc(decode_all(tr, sizeof(tr) - 1, &out_len, &used),
             ok ? 1 : HCS_EBADREQUEST, tr, sizeof(tr) - 1);
  }
}

/* Done stays done, failed stays failed, and neither consumes more. */
static void gen_sticky_end_states(void **state) {
  hcs_chunked_decoder_t d;
  char out[32];
  size_t out_len, used;
  const char *more = "5\r\nhello\r\n0\r\n\r\n";

  hcs_chunked_decoder_init(&d);
  assert_int_equal(hcs_chunked_decode(&d, "0\r\n\r\n", 5, out, &out_len, &used),
                   1);
  assert_int_equal(used, 5);
  assert_int_equal(hcs_chunked_decode(&d, more, strlen(more), out, &out_len,
                                      &used),
                   1);
  assert_int_equal(used, 0);
  assert_int_equal(out_len, 0);
  assert_int_equal(hcs_chunked_decode(&d, NULL, 0, out, &out_len, &used), 1);

  hcs_chunked_decoder_init(&d);
  assert_int_equal(hcs_chunked_decode(&d, "x", 1, out, &out_len, &used),
                   HCS_EBADREQUEST);
  assert_int_equal(hcs_chunked_decode(&d, more, strlen(more), out, &out_len,
                                      &used),
                   HCS_EBADREQUEST);
  assert_int_equal(used, 0);
  assert_int_equal(out_len, 0);

  /* init makes a used decoder new again. */
  hcs_chunked_decoder_init(&d);
  assert_int_equal(hcs_chunked_decode(&d, more, strlen(more), out, &out_len,
                                      &used),
                   1);
  assert_int_equal(out_len, 5);
  assert_memory_equal(out, "hello", 5);
}

static const struct {
  const char *name;
  CMUnitTestFunction fn;
} generated[] = {
    {"gen/size_line_limit", gen_size_line_limit},
    {"gen/endless_extension", gen_endless_extension},
    {"gen/trailer_limit", gen_trailer_limit},
    {"gen/many_chunks", gen_many_chunks},
    {"gen/every_byte_as_size", gen_every_byte_as_size},
    {"gen/every_byte_in_ext_and_trailer", gen_every_byte_in_ext_and_trailer},
    {"gen/sticky_end_states", gen_sticky_end_states},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(int argc, char **argv) {
  size_t n = 0, total = COUNT(cases) + COUNT(generated);
  struct CMUnitTest *tests = calloc(total, sizeof(*tests));
  int rc;

  if (tests == NULL)
    return 1;
  for (size_t i = 0; i < COUNT(cases); i++) {
    tests[n].name = cases[i].name;
    tests[n].test_func = run_case;
    tests[n++].initial_state = &cases[i];
  }
  for (size_t i = 0; i < COUNT(generated); i++) {
    tests[n].name = generated[i].name;
    tests[n++].test_func = generated[i].fn;
  }
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  rc = _cmocka_run_group_tests("http1_chunked", tests, n, NULL, NULL);
  free(tests);
  return rc;
}
